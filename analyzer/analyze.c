/* heaptrail analyze: see analyze.h. */
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

const char *ht_an_col_name(enum ht_an_col c)
{
    static const char *const n[] = {"alloc",          "free",   "icall",
                                    "store",          "store-in-macro",
                                    "incref",         "decref", "func"};
    return (unsigned)c < HT_AN_COLS ? n[c] : "?";
}

static int seen_file(const struct ht_ccdb *db, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(db->v[j].file, db->v[i].file) == 0 &&
            strcmp(db->v[j].dir, db->v[i].dir) == 0)
            return 1;
    return 0;
}

static void count(struct ht_an_file *f, const struct ht_site_list *l)
{
    static const enum ht_an_col col[HT_SITE_KIND_COUNT] = {
        [HT_SITE_ALLOC] = HT_AN_ALLOC,   [HT_SITE_FREE] = HT_AN_FREE,
        [HT_SITE_ICALL] = HT_AN_ICALL,   [HT_SITE_STORE] = HT_AN_STORE,
        [HT_SITE_FUNC] = HT_AN_FUNC,     [HT_SITE_INCREF] = HT_AN_INCREF,
        [HT_SITE_DECREF] = HT_AN_DECREF};
    for (size_t i = 0; i < l->n; i++) {
        const struct ht_site *s = &l->v[i];
        f->n[col[s->kind]]++;
        /* a store in a macro with a splice is recorded through the
         * expansion of its invocation (sites.h) */
        if (s->kind == HT_SITE_STORE && *s->macro && !s->splice)
            f->n[HT_AN_STORE_MACRO]++;
    }
}

static int file_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ht_an_file *)a)->file,
                  ((const struct ht_an_file *)b)->file);
}

/* Parse one entry; its counts go to a new row of out. */
static ht_err one(const struct ht_ccdb_entry *e, struct ht_site_opts *so,
                  struct ht_analysis *out, ht_err *parse)
{
    int argc;
    char **argv = ht_ccdb_parse_argv(e, &argc);
    if (!argv)
        return HT_ENOMEM;
    struct ht_site_list l;
    *parse = ht_sites_find((const char *const *)argv, argc, e->dir, so, &l);
    free(argv);
    if (*parse)
        return *parse == HT_ENOMEM ? HT_ENOMEM : HT_OK;
    struct ht_an_file *f = &out->files[out->nfiles];
    memset(f, 0, sizeof *f);
    f->file = strdup(l.main_file);
    if (!f->file) {
        ht_sites_free(&l);
        return HT_ENOMEM;
    }
    out->nfiles++;
    count(f, &l);
    ht_sites_free(&l);
    return HT_OK;
}

ht_err ht_analyze_project(const struct ht_ccdb *db,
                          const struct ht_site_opts *opts,
                          struct ht_analysis *out, ht_an_progress cb,
                          void *ctx)
{
    memset(out, 0, sizeof *out);
    struct ht_site_opts so = *opts;
    so.types = &out->types;
    out->files = calloc(db->n + 1, sizeof *out->files);
    ht_err err = out->files ? HT_OK : HT_ENOMEM;
    for (size_t i = 0; i < db->n && !err; i++) {
        if (seen_file(db, i))
            continue;
        ht_err parse;
        err = one(&db->v[i], &so, out, &parse);
        if (!err && out->types.err)
            err = out->types.err;
        if (err)
            break;
        if (parse)
            out->failed++;
        else
            out->units++;
        if (cb)
            cb(ctx, &db->v[i], parse);
    }
    if (!err) {
        qsort(out->files, out->nfiles, sizeof *out->files, file_cmp);
        for (size_t i = 0; i < out->nfiles; i++)
            for (int c = 0; c < HT_AN_COLS; c++)
                out->total[c] += out->files[i].n[c];
        err = ht_typegraph_cycles(&out->types, &out->cycles);
    }
    if (err)
        ht_analysis_free(out);
    return err;
}

void ht_analysis_free(struct ht_analysis *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nfiles; i++)
        free(a->files[i].file);
    free(a->files);
    ht_tg_cycles_free(&a->cycles);
    ht_typegraph_free(&a->types);
    memset(a, 0, sizeof *a);
}
