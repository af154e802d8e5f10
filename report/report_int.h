/* report/ internals shared by the loader, the renderers and suppressions. */
#ifndef HT_REPORT_INT_H
#define HT_REPORT_INT_H

#include <stdio.h>

#include "heaptrail/report.h"

/* Copy s into r's string pool (NULL for NULL or on ENOMEM). */
const char *ht__rep_strdup(struct ht_report *r, const char *s);
uint64_t ht__rep_u64(const char *s);
/* Whether the trace has a table or view of that name. */
int ht__rep_has_table(ht_store *st, const char *name);
/* Whether an errors.kind is a refcount error. */
int ht__rep_error_is_refcount(const char *kind);
/* Whether an invalid/double free kind ("invalid_free", "double_free",
 * "realloc_freed"). */
int ht__rep_error_is_free(const char *kind);
/* Whether a finding of category cat ("leak", "cycle", "error", "refcount")
 * allocated/raised at loc is suppressed by s (NULL: never). */
int ht__supp_match(const ht_report_supp *s, const char *cat,
                   const struct ht_report_loc *loc);
/* "file:line:col func" for loc into buf (basename not applied). */
const char *ht__rep_loc_str(const struct ht_report_loc *loc, char *buf,
                            size_t n);

#endif
