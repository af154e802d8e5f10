/* One-level macro expansion text for the splices of sites.h (analyzer
 * internal: includes clang-c). */
#ifndef HT_ANALYZER_MACROEXP_H
#define HT_ANALYZER_MACROEXP_H

#include <clang-c/Index.h>
#include <stddef.h>

/* The expansion of the invocation exp (MacroExpansion cursor) spanning
 * main-file offsets [b, e) of buf[0..bufn): owned text without newline,
 * or NULL if it is refused (see macroexp.c). */
char *ht__macro_expand(CXTranslationUnit tu, CXFile main, CXCursor exp,
                       unsigned b, unsigned e, const char *buf, size_t bufn);

#endif
