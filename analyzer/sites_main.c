/*
 * heaptrail-sites: list the sites of one TU.
 * Usage: heaptrail-sites [--inc=NAME]... [--dec=NAME]... [--rewrite=OUT]
 *        -- COMPILER ARGS...
 */
#include <stdio.h>
#include <string.h>

#include "sites.h"

int main(int argc, char **argv)
{
    const char *inc[16], *dec[16], *rw = NULL;
    size_t ni = 0, nd = 0;
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strncmp(argv[i], "--inc=", 6) == 0 && ni < 16)
            inc[ni++] = argv[i] + 6;
        else if (strncmp(argv[i], "--dec=", 6) == 0 && nd < 16)
            dec[nd++] = argv[i] + 6;
        else if (strncmp(argv[i], "--rewrite=", 10) == 0)
            rw = argv[i] + 10;
        else {
            fprintf(stderr, "heaptrail-sites: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (i + 2 > argc) {
        fprintf(stderr, "usage: heaptrail-sites [opts] -- cc args...\n");
        return 2;
    }
    struct ht_site_opts o = {inc, ni, dec, nd, 0};
    struct ht_site_list l;
    ht_err e = ht_sites_find((const char *const *)argv + i + 1, argc - i - 1,
                             NULL, &o, &l);
    if (e) {
        fprintf(stderr, "heaptrail-sites: %s\n", ht_strerror(e));
        return 1;
    }
    e = ht_sites_write_tsv(&l, "/dev/stdout");
    if (!e && rw)
        e = ht_rewrite_file(&l, rw);
    ht_sites_free(&l);
    if (e) {
        fprintf(stderr, "heaptrail-sites: %s\n", ht_strerror(e));
        return 1;
    }
    return 0;
}
