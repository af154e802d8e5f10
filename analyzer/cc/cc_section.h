/*
 * heaptrail-cc (internal): the site table as an ELF section of the object
 * (see cc_section.c).
 */
#ifndef HEAPTRAIL_CC_SECTION_H
#define HEAPTRAIL_CC_SECTION_H

#include "sites.h"

/* Section name; keep in step with store/sites_import.c. */
#define HT_CC_SITES_SECTION ".heaptrail.sites"

/* Append to the rewritten copy at rewritten_path a file-scope asm that puts
 * l's rows (TSV, no header) into HT_CC_SITES_SECTION; tmpdir holds a
 * scratch file. HT_OK, HT_EIO or HT_ENOMEM. */
ht_err ht__cc_embed_sites(const struct ht_site_list *l, const char *tmpdir,
                          const char *rewritten_path);

#endif
