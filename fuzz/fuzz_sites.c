/*
 * Fuzz target: the analyzer's site finder and rewriter on arbitrary C text.
 * The input is the main file (a libclang unsaved file, never written to
 * disk), parsed with refcount names, a custom allocator and a custom
 * deallocator configured so every site kind can be reached; when it parses,
 * the site list must satisfy its invariants and the rewrite must not find
 * overlapping edits. Errors (unparsable text) are fine; crashes, sanitizer
 * reports and aborts are findings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "sites.h"

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const inc[] = {"obj_incref", "INCREF"};
    static const char *const dec[] = {"obj_decref", "DECREF"};
    static const struct ht_site_fn af[] = {{"pool_alloc", 2}};
    static const struct ht_site_fn ff[] = {{"pool_free", 2}};
    struct ht_site_opts o = {.inc_names = inc, .n_inc = 2, .dec_names = dec,
                             .n_dec = 2, .alloc_fns = af, .n_alloc_fns = 1,
                             .free_fns = ff, .n_free_fns = 1};
    /* -I: the seeds (samples/analyzer) include refapi.h */
    const char *argv[] = {"clang", "-c", "-w", "-ferror-limit=1",
                          ("-I" FZ_SAMPLES), "/fuzz/input.c"};
    struct ht_site_list l;
    if (ht__sites_find_text(argv, 6, &o, "/fuzz/input.c", (const char *)data,
                            size, &l) != HT_OK)
        return 0;
    if (!ht__sites_is_valid(&l))
        abort();
    char *buf = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&buf, &n);
    if (out) {
        ht_err e = ht__rewrite_text(&l, (const char *)data, size, out);
        fclose(out);
        if (e == HT_EINVAL)
            abort(); /* overlapping edits: the site list lied */
    }
    free(buf);
    ht_sites_free(&l);
    return 0;
}
