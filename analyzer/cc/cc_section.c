/*
 * The site table travels inside the object file.
 *
 * The rows of a translation unit's site table (the TSV of
 * ht_sites_write_tsv without its header) are appended to the rewritten copy
 * as a file-scope `__asm__` that emits them into a non-allocated ELF section
 * HT_CC_SITES_SECTION. The linker concatenates same-named sections, so a
 * program or shared object carries the tables of exactly the objects linked
 * into it, whatever the build does with the objects in between (archives,
 * `mv objs/x.o x.lo`, ccache's cache, install), and the build sees no extra
 * file. The section is not loaded at run time (no SHF_ALLOC) and survives
 * --gc-sections; `strip` keeps it, `objcopy -R` removes it. The store reads
 * it at ingest (store/sites_import.c).
 *
 * Appending after the last line leaves the line numbers of the original
 * text unchanged (invariant of the rewriter).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heaptrail/slurp.h"
#include "cc_section.h"

/* One row as the body of a C string holding a gas .ascii operand. */
static void put_row(FILE *f, const char *b, const char *e)
{
    fputs("\t.ascii \\\"", f);
    for (const char *p = b; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (isalnum(c) || strchr(" _./:-+,=()*&[]<>{}!?%^~|;#@", c))
            fputc(c, f);
        else
            fprintf(f, "\\\\%03o", c); /* C "\\ooo" -> gas octal escape */
    }
    fputs("\\\"\\n\"\n\"", f);
}

ht_err ht__cc_embed_sites(const struct ht_site_list *l, const char *tmpdir,
                          const char *rewritten_path)
{
    char *tsv = NULL;
    if (asprintf(&tsv, "%s/sites.tsv", tmpdir) < 0)
        return HT_ENOMEM;
    ht_err e = ht_sites_write_tsv(l, tsv);
    size_t len = 0;
    char *text = e ? NULL : ht__slurp(tsv, &len);
    unlink(tsv);
    free(tsv);
    if (e)
        return e;
    if (!text)
        return HT_ENOMEM;
    FILE *f = fopen(rewritten_path, "a");
    if (!f) {
        free(text);
        return HT_EIO;
    }
    fputs("\n__asm__(\"\t.pushsection " HT_CC_SITES_SECTION
          ",\\\"\\\",@progbits\\n\"\n\"", f);
    const char *p = strchr(text, '\n'); /* skip the header */
    p = p ? p + 1 : text + len;
    while (p < text + len) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        const char *e2 = nl ? nl + 1 : text + len;
        put_row(f, p, e2);
        p = e2;
    }
    fputs("\t.popsection\\n\");\n", f);
    free(text);
    return fclose(f) == 0 ? HT_OK : HT_EIO;
}
