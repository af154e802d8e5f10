/*
 * Rewriter: writes an instrumented copy of the main file from its own
 * sorted edit list. Inserted text never contains a newline, and a
 * `#line 1` directive follows the prelude, so line numbers are kept.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sites.h"

struct edit {
    unsigned off;  /* where */
    unsigned del;  /* bytes replaced */
    int cls;       /* 0 closer, 1 replace, 2 opener */
    unsigned key;  /* closers: site start (later first); openers: site end */
    char *text;
};

static int edit_cmp(const void *a, const void *b)
{
    const struct edit *x = a, *y = b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    if (x->cls != y->cls)
        return x->cls - y->cls;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1; /* inner closer / outer opener */
    return 0;
}

static const char prelude[] =
    "void ht_rt_store(__UINT64_TYPE__, void *, const void *, const void *);"
    " void ht_rt_incref(__UINT64_TYPE__, const void *);"
    " void ht_rt_decref(__UINT64_TYPE__, const void *);\n";

ht_err ht_rewrite_file(const struct ht_site_list *l, const char *out_path)
{
    FILE *in = fopen(l->main_file, "rb");
    if (!in)
        return HT_ENOENT;
    char *src = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *n = realloc(src, cap);
            if (!n) {
                free(src);
                fclose(in);
                return HT_ENOMEM;
            }
            src = n;
        }
        size_t k = fread(src + len, 1, cap - len, in);
        len += k;
        if (k == 0)
            break;
    }
    fclose(in);
    struct edit *ed = calloc(3 * l->n + 1, sizeof *ed);
    size_t ne = 0;
    ht_err err = HT_OK;
    if (!ed) {
        free(src);
        return HT_ENOMEM;
    }
    for (size_t i = 0; i < l->n && !err; i++) {
        const struct ht_site *s = &l->v[i];
        if (!s->rewritable)
            continue;
        /* names are unique per site: nested rewrites never shadow
         * (-Wshadow). The old value is read after an empty asm with a
         * memory clobber: gcc -Werror=uninitialized otherwise rejects the
         * read of a fresh malloc block's slot (`a = malloc(..); a->f = x`).
         * Every operand is evaluated once; the expression keeps the value
         * and type of the assignment. */
        char a[200], m[200], b[480];
        if (s->kind == HT_SITE_STORE) {
            if (s->rhs_e > len)
                continue;
            snprintf(a, sizeof a, "({ __auto_type __ht_a%zu = &(", i);
            snprintf(m, sizeof m,
                     "); __typeof__(*__ht_a%zu) __ht_v%zu = (", i, i);
            snprintf(b, sizeof b,
                     "); __typeof__(*__ht_a%zu) __ht_o%zu; "
                     "__asm__(\"\" : : \"r\"(__ht_a%zu) : \"memory\"); "
                     "__ht_o%zu = *__ht_a%zu; "
                     "ht_rt_store(0x%" PRIx64 "ULL, (void *)__ht_a%zu, "
                     "(const void *)__ht_v%zu, (const void *)__ht_o%zu); "
                     "*__ht_a%zu = __ht_v%zu; })",
                     i, i, i, i, i, s->id, i, i, i, i, i);
            ed[ne++] = (struct edit){s->lhs_b, 0, 2, s->rhs_e, strdup(a)};
            ed[ne++] = (struct edit){s->op, 1, 1, 0, strdup(m)};
            ed[ne++] = (struct edit){s->rhs_e, 0, 0, s->lhs_b, strdup(b)};
        } else if (s->kind == HT_SITE_INCREF || s->kind == HT_SITE_DECREF) {
            if (s->arg_e > len)
                continue;
            snprintf(a, sizeof a, "({ __auto_type __ht_r%zu = (", i);
            snprintf(b, sizeof b,
                     "); ht_rt_%s(0x%" PRIx64 "ULL, (const void *)__ht_r%zu); "
                     "__ht_r%zu; })",
                     s->kind == HT_SITE_INCREF ? "incref" : "decref", s->id,
                     i, i);
            ed[ne++] = (struct edit){s->arg_b, 0, 2, s->arg_e, strdup(a)};
            ed[ne++] = (struct edit){s->arg_e, 0, 0, s->arg_b, strdup(b)};
        }
        if (ne && !ed[ne - 1].text)
            err = HT_ENOMEM;
    }
    for (size_t i = 0; i < ne && !err; i++)
        if (!ed[i].text)
            err = HT_ENOMEM;
    FILE *out = NULL;
    if (!err) {
        qsort(ed, ne, sizeof *ed, edit_cmp);
        out = fopen(out_path, "wb");
        if (!out)
            err = HT_EIO;
    }
    if (!err) {
        fputs(prelude, out);
        fputs("#line 1 \"", out);
        for (const char *p = l->main_file; *p; p++) {
            if (*p == '"' || *p == '\\')
                fputc('\\', out);
            fputc(*p, out);
        }
        fputs("\"\n", out);
        size_t pos = 0;
        for (size_t i = 0; i < ne; i++) {
            if (ed[i].off < pos)
                continue; /* overlapping edit: cannot happen for valid lists */
            fwrite(src + pos, 1, ed[i].off - pos, out);
            fputs(ed[i].text, out);
            pos = ed[i].off + ed[i].del;
        }
        fwrite(src + pos, 1, len - pos, out);
        if (fclose(out) != 0)
            err = HT_EIO;
    }
    for (size_t i = 0; i < ne; i++)
        free(ed[i].text);
    free(ed);
    free(src);
    return err;
}

ht_err ht_sites_write_tsv(const struct ht_site_list *l, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return HT_EIO;
    fputs("id\tkind\tfile\tline\tcol\tfunc\tmacro\ttype\tfield\trewritable\tccol\n", f);
    for (size_t i = 0; i < l->n; i++) {
        const struct ht_site *s = &l->v[i];
        fprintf(f, "%" PRIu64 "\t%s\t%s\t%u\t%u\t%s\t%s\t%s\t%s\t%d\t%u\n", s->id,
                ht_site_kind_name(s->kind), s->file, s->line, s->col, s->func,
                s->macro, s->type, s->field, s->rewritable,
                s->ccol ? s->ccol : s->col);
    }
    return fclose(f) == 0 ? HT_OK : HT_EIO;
}
