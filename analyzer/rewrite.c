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
    int cls;       /* -1 whole-line insert, 0 closer, 1 replace, 2 opener */
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
    " void ht_rt_decref(__UINT64_TYPE__, const void *);"
    " void *ht_rt_alloc_note(__UINT64_TYPE__, void *, __UINT64_TYPE__);"
    " void ht_rt_free_note(__UINT64_TYPE__, const void *);\n";

/* `#line N "file"` + newline into f. */
static void put_line(FILE *f, unsigned n, const char *file)
{
    fprintf(f, "#line %u \"", n);
    for (const char *p = file; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputs("\"\n", f);
}

/* The whole lines that open (def) or close a redefinition of a refcount
 * function as a recording macro (see sites.h redef_b); owned, or NULL. */
static char *redef_text(const struct ht_site_list *l, const struct ht_site *s,
                        size_t i, int def)
{
    char *t = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&t, &n);
    if (!f)
        return NULL;
    if (def)
        fprintf(f,
                "#define %s(...) (__extension__({ __auto_type __ht_m%zu = "
                "(__VA_ARGS__); ht_rt_%s(0x%" PRIx64 "ULL, "
                "(const void *)__ht_m%zu); %s(__ht_m%zu); }))\n",
                s->callee, i, s->kind == HT_SITE_INCREF ? "incref" : "decref",
                s->id, i, s->callee, i);
    else
        fprintf(f, "#undef %s\n", s->callee);
    put_line(f, def ? s->redef_line : s->redef_line2, l->main_file);
    if (fclose(f) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

/* The whole file at path into *src (malloc'd, *len bytes). */
static ht_err read_all(const char *path, char **src, size_t *len)
{
    FILE *in = fopen(path, "rb");
    *src = NULL;
    *len = 0;
    if (!in)
        return HT_ENOENT;
    size_t cap = 0;
    for (;;) {
        if (*len + 4096 > cap) {
            cap = cap ? 2 * cap : 65536;
            char *n = realloc(*src, cap);
            if (!n) {
                free(*src);
                *src = NULL;
                fclose(in);
                return HT_ENOMEM;
            }
            *src = n;
        }
        size_t k = fread(*src + *len, 1, cap - *len, in);
        *len += k;
        if (k == 0)
            break;
    }
    fclose(in);
    return HT_OK;
}

ht_err ht_rewrite_file(const struct ht_site_list *l, const char *out_path)
{
    char *src;
    size_t len;
    ht_err err = read_all(l->main_file, &src, &len);
    if (err)
        return err;
    FILE *out = fopen(out_path, "wb");
    if (!out) {
        free(src);
        return HT_EIO;
    }
    err = ht__rewrite_text(l, src, len, out);
    if (fclose(out) != 0 && !err)
        err = HT_EIO;
    free(src);
    return err;
}

ht_err ht__rewrite_text(const struct ht_site_list *l, const char *src,
                        size_t len, FILE *out)
{
    struct edit *ed = calloc(4 * l->n + 1, sizeof *ed);
    size_t ne = 0;
    ht_err err = HT_OK;
    if (!ed)
        return HT_ENOMEM;
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
        } else if ((s->kind == HT_SITE_INCREF || s->kind == HT_SITE_DECREF) &&
                   s->redef_e) {
            if (s->redef_e > len)
                continue;
            ed[ne++] = (struct edit){s->redef_b, 0, -1, 0,
                                     redef_text(l, s, i, 1)};
            /* key 1: an #undef precedes a #define at the same line */
            ed[ne++] = (struct edit){s->redef_e, 0, -1, 1,
                                     redef_text(l, s, i, 0)};
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
        } else if (s->fn_arg && s->kind == HT_SITE_ALLOC) {
            /* ({ z = 0; p = NAME(.., ({ s = (ARG); z = s; s; }), ..);
             *    alloc_note(id, p, z); p; }) */
            if (s->call_e > len)
                continue;
            char o[200];
            snprintf(o, sizeof o,
                     "({ __UINT64_TYPE__ __ht_z%zu = 0; "
                     "__auto_type __ht_p%zu = ", i, i);
            snprintf(a, sizeof a, "({ __auto_type __ht_s%zu = (", i);
            snprintf(m, sizeof m,
                     "); __ht_z%zu = (__UINT64_TYPE__)__ht_s%zu; __ht_s%zu; })",
                     i, i, i);
            snprintf(b, sizeof b,
                     "; ht_rt_alloc_note(0x%" PRIx64 "ULL, (void *)__ht_p%zu, "
                     "__ht_z%zu); __ht_p%zu; })",
                     s->id, i, i, i);
            ed[ne++] = (struct edit){s->call_b, 0, 2, s->call_e, strdup(o)};
            ed[ne++] = (struct edit){s->arg_b, 0, 2, s->arg_e, strdup(a)};
            ed[ne++] = (struct edit){s->arg_e, 0, 0, s->arg_b, strdup(m)};
            ed[ne++] = (struct edit){s->call_e, 0, 0, s->call_b, strdup(b)};
        } else if (s->fn_arg && s->kind == HT_SITE_FREE) {
            /* the pointer argument, recorded before the call frees it */
            if (s->arg_e > len)
                continue;
            snprintf(a, sizeof a, "({ __auto_type __ht_f%zu = (", i);
            snprintf(b, sizeof b,
                     "); ht_rt_free_note(0x%" PRIx64 "ULL, "
                     "(const void *)__ht_f%zu); __ht_f%zu; })",
                     s->id, i, i);
            ed[ne++] = (struct edit){s->arg_b, 0, 2, s->arg_e, strdup(a)};
            ed[ne++] = (struct edit){s->arg_e, 0, 0, s->arg_b, strdup(b)};
        }
    }
    for (size_t i = 0; i < ne && !err; i++)
        if (!ed[i].text)
            err = HT_ENOMEM;
    if (!err) {
        qsort(ed, ne, sizeof *ed, edit_cmp);
        fputs(prelude, out);
        put_line(out, 1, l->main_file);
        size_t pos = 0;
        for (size_t i = 0; i < ne; i++) {
            if (ed[i].off < pos) {
                err = HT_EINVAL; /* overlapping edits: refuse, the
                                    caller compiles the original */
                break;
            }
            fwrite(src + pos, 1, ed[i].off - pos, out);
            fputs(ed[i].text, out);
            pos = ed[i].off + ed[i].del;
        }
        if (!err)
            fwrite(src + pos, 1, len - pos, out);
    }
    for (size_t i = 0; i < ne; i++)
        free(ed[i].text);
    free(ed);
    return err;
}

ht_err ht_sites_write_tsv(const struct ht_site_list *l, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return HT_EIO;
    fputs("id\tkind\tfile\tline\tcol\tfunc\tmacro\ttype\tfield\trewritable\n", f);
    for (size_t i = 0; i < l->n; i++) {
        const struct ht_site *s = &l->v[i];
        fprintf(f, "%" PRIu64 "\t%s\t%s\t%u\t%u\t%s\t%s\t%s\t%s\t%d\n", s->id,
                ht_site_kind_name(s->kind), s->file, s->line, s->col, s->func,
                s->macro, s->type, s->field, s->rewritable);
    }
    return fclose(f) == 0 ? HT_OK : HT_EIO;
}
