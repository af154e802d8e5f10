/*
 * heaptrail-cc (internal): columns of call sites in the rewritten copy
 * (see cc_colmap.c).
 */
#ifndef HEAPTRAIL_CC_COLMAP_H
#define HEAPTRAIL_CC_COLMAP_H

#include "sites.h"

/* Set ccol of every alloc/free/icall site of l from the rewritten copy at
 * rewritten_path (0 where it cannot be mapped). Best effort: on any read
 * error the sites are left unchanged. */
void ht__cc_map_cols(struct ht_site_list *l, const char *rewritten_path);

#endif
