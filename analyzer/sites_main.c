/*
 * heaptrail-sites: list the sites of one TU (TSV on stdout).
 * Usage: heaptrail-sites [HEAPTRAIL_OPTS-style options] [--rewrite=OUT]
 *        -- COMPILER ARGS...
 * The options are those of heaptrail-cc (analyzer/cc/cc_opts.h); --inc=N
 * and --dec=N are kept as short forms of --refcount-inc/--refcount-dec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_opts.h"
#include "sites.h"

int main(int argc, char **argv)
{
    const char *rw = NULL;
    struct ht_cc_opts o;
    char err[600];
    memset(&o, 0, sizeof o);
    int i = 1, rc = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i];
        char buf[600];
        if (strncmp(a, "--rewrite=", 10) == 0) {
            rw = a + 10;
            continue;
        }
        if (strncmp(a, "--inc=", 6) == 0 || strncmp(a, "--dec=", 6) == 0) {
            snprintf(buf, sizeof buf, "--refcount-%s", a + 2);
            a = buf;
        } else if (i + 1 < argc && !strchr(a, '=') &&
                   strcmp(a, "--no-stores") != 0) {
            snprintf(buf, sizeof buf, "%s=%s", a, argv[i + 1]);
            a = buf;
            i++;
        }
        if (ht_cc_opts_parse(&o, a, "heaptrail-sites", err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            ht_cc_opts_free(&o);
            return 2;
        }
    }
    if (i + 2 > argc) {
        fprintf(stderr, "usage: heaptrail-sites [opts] -- cc args...\n");
        ht_cc_opts_free(&o);
        return 2;
    }
    struct ht_site_opts so = ht_cc_opts_site_opts(&o);
    struct ht_site_list l;
    ht_err e = ht_sites_find((const char *const *)argv + i + 1, argc - i - 1,
                             NULL, &so, &l);
    if (!e && rw) /* first: it marks the stores it could splice */
        e = ht_rewrite_file(&l, rw);
    if (!e)
        e = ht_sites_write_tsv(&l, "/dev/stdout");
    if (e)
        fprintf(stderr, "heaptrail-sites: %s\n", ht_strerror(e));
    else
        rc = 0;
    if (l.main_file || l.v)
        ht_sites_free(&l);
    ht_cc_opts_free(&o);
    return rc;
}
