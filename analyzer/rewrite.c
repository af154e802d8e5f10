/*
 * Rewriter: writes an instrumented copy of the main file from its own
 * sorted edit list. Inserted text never contains a newline, and a
 * `#line 1` directive follows the prelude, so line numbers are kept.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heaptrail/slurp.h"
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
static char *redef_text(const char *main_file, const struct ht_site *s,
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
    put_line(f, def ? s->redef_line : s->redef_line2, main_file);
    if (fclose(f) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

/* The whole file at path into *src (malloc'd, *len bytes). */
static ht_err read_all(const char *path, char **src, size_t *len)
{
    *src = ht__slurp(path, len);
    return *src ? HT_OK : errno == ENOMEM ? HT_ENOMEM : HT_ENOENT;
}

ht_err ht_rewrite_file(struct ht_site_list *l, const char *out_path)
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

/* The rewriting proper: sites v[0..n) (offsets into src) edited into
 * src[0..len), written to out. */
static ht_err emit(const struct ht_site *v, size_t n, const char *main_file,
                   const char *src, size_t len, FILE *out)
{
    struct edit *ed = calloc(4 * n + 1, sizeof *ed);
    size_t ne = 0;
    ht_err err = HT_OK;
    if (!ed)
        return HT_ENOMEM;
    for (size_t i = 0; i < n && !err; i++) {
        const struct ht_site *s = &v[i];
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
                                     redef_text(main_file, s, i, 1)};
            /* key 1: an #undef precedes a #define at the same line */
            ed[ne++] = (struct edit){s->redef_e, 0, -1, 1,
                                     redef_text(main_file, s, i, 0)};
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
        put_line(out, 1, main_file);
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

/* ---- splices: stores written in macro bodies (sites.h ht_splice) ----
 *
 * Invariants:
 *   1. a round replaces disjoint invocations, sorted by offset, each by
 *      its expansion followed by as many newlines as the invocation held,
 *      so every line keeps its number;
 *   2. a round after the first only expands invocations lying inside the
 *      expansions of the round before (nested macros), so the text outside
 *      the first round's invocations is unchanged but for its offsets
 *      (map_off);
 *   3. no edit point of another site lies strictly inside a spliced
 *      invocation (sites.c edits_inside), so mapping them is exact.
 */
#define MAX_ROUNDS 4

struct applied {
    unsigned b, e, nlen; /* replaced [b, e) by nlen bytes */
};

struct round {
    struct applied *a;
    size_t n;
};

/* src with sp[0..n) applied; a[] receives what was done. */
static char *apply(const char *src, size_t len, const struct ht_splice *sp,
                   size_t n, struct applied *a, size_t *outlen)
{
    char *t = NULL;
    size_t tn = 0, pos = 0;
    FILE *f = open_memstream(&t, &tn);
    if (!f)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (sp[i].b < pos || sp[i].e > len || sp[i].b >= sp[i].e)
            break; /* cannot happen: sorted, disjoint (sites.c) */
        fwrite(src + pos, 1, sp[i].b - pos, f);
        size_t nl = 0, tl = strlen(sp[i].text);
        fputs(sp[i].text, f);
        for (unsigned k = sp[i].b; k < sp[i].e; k++)
            if (src[k] == '\n') {
                fputc('\n', f);
                nl++;
            }
        a[i] = (struct applied){sp[i].b, sp[i].e, (unsigned)(tl + nl)};
        pos = sp[i].e;
    }
    fwrite(src + pos, 1, len - pos, f);
    if (fclose(f) != 0) {
        free(t);
        return NULL;
    }
    *outlen = tn;
    return t;
}

/* Offset off (not strictly inside a replaced invocation) after the rounds. */
static unsigned map_off(const struct round *r, size_t nr, unsigned off)
{
    for (size_t i = 0; i < nr; i++) {
        long long d = 0;
        for (size_t k = 0; k < r[i].n && r[i].a[k].e <= off; k++)
            d += (long long)r[i].a[k].nlen -
                 (long long)(r[i].a[k].e - r[i].a[k].b);
        off = (unsigned)((long long)off + d);
    }
    return off;
}

static void map_site(struct ht_site *s, const struct round *r, size_t nr)
{
    unsigned *p[] = {&s->lhs_b,  &s->lhs_e,  &s->op,      &s->rhs_b,
                     &s->rhs_e,  &s->arg_b,  &s->arg_e,   &s->call_b,
                     &s->call_e, &s->redef_b, &s->redef_e};
    for (size_t k = 0; k < sizeof p / sizeof p[0]; k++)
        *p[k] = map_off(r, nr, *p[k]);
}

static int by_seq(const void *a, const void *b)
{
    const struct ht_site *x = *(const struct ht_site *const *)a,
                         *y = *(const struct ht_site *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sites of l (or of f: final) that are stores of splice j / lie in
 * [fb, fe), in visitation order; *n of them (owned array). */
static const struct ht_site **stores_of(const struct ht_site_list *l,
                                        unsigned j, unsigned fb, unsigned fe,
                                        size_t *n)
{
    const struct ht_site **v = calloc(l->n + 1, sizeof *v);
    *n = 0;
    if (!v)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        const struct ht_site *s = &l->v[i];
        if (s->kind == HT_SITE_STORE &&
            (j ? s->splice == j : (fb <= s->off && s->off < fe)))
            v[(*n)++] = s;
    }
    qsort(v, *n, sizeof *v, by_seq);
    return v;
}

/* Give the stores of l's splice j the edit offsets of the stores found in
 * its expansion in the final parse f; 1 if they match one for one. */
static int match_splice(struct ht_site_list *l, struct ht_site *v2, size_t j,
                        const struct ht_site_list *f, const struct round *r,
                        size_t nr)
{
    unsigned fb = map_off(r, nr, l->sp[j].b), fe = map_off(r, nr, l->sp[j].e);
    size_t no, nf;
    const struct ht_site **o = stores_of(l, (unsigned)j + 1, 0, 0, &no);
    const struct ht_site **n = stores_of(f, 0, fb, fe, &nf);
    int ok = o && n && no == nf && no > 0;
    for (size_t k = 0; ok && k < no; k++)
        ok = n[k]->rewritable && strcmp(n[k]->type, o[k]->type) == 0 &&
             strcmp(n[k]->field, o[k]->field) == 0;
    for (size_t k = 0; ok && k < no; k++) {
        size_t i = (size_t)(o[k] - l->v);
        struct ht_site *d = &v2[i];
        d->lhs_b = n[k]->lhs_b, d->lhs_e = n[k]->lhs_e, d->op = n[k]->op;
        d->rhs_b = n[k]->rhs_b, d->rhs_e = n[k]->rhs_e;
        d->rewritable = 1;
        l->v[i].rewritable = 1;
    }
    free(o);
    free(n);
    return ok;
}

/* Rewrite with l's splices applied; HT_EPARSE if a spliced copy does not
 * parse (the caller rewrites the original text instead). */
static ht_err rewrite_spliced(struct ht_site_list *l, const char *src,
                              size_t len, FILE *out)
{
    struct round r[MAX_ROUNDS];
    size_t nr = 0;
    char *cur = NULL;
    size_t curlen = len;
    struct ht_site_list f, nf;
    memset(&f, 0, sizeof f);
    struct ht_splice *sel = NULL;
    const struct ht_splice *sp = l->sp;
    size_t nsp = l->nsp;
    struct ht_site *v2 = NULL;
    ht_err err = HT_OK;
    while (nr < MAX_ROUNDS && nsp) {
        r[nr].n = nsp;
        r[nr].a = calloc(nsp, sizeof *r[nr].a);
        char *next = r[nr].a ? apply(cur ? cur : src, curlen, sp, nsp,
                                     r[nr].a, &curlen)
                             : NULL;
        nr++;
        free(cur);
        cur = next;
        if (!cur) {
            err = HT_ENOMEM;
            goto out;
        }
        err = ht__sites_find_text((const char *const *)l->argv, l->argc,
                                  NULL, l->tu_name, cur, curlen, &nf);
        if (err) {
            if (err != HT_ENOMEM)
                err = HT_EPARSE; /* nothing written yet: fall back */
            goto out;
        }
        ht_sites_free(&f);
        f = nf;
        /* nested invocations left inside this round's expansions */
        free(sel);
        sel = calloc(f.nsp + 1, sizeof *sel);
        if (!sel) {
            err = HT_ENOMEM;
            goto out;
        }
        nsp = 0;
        const struct round *lr = &r[nr - 1];
        for (size_t i = 0; i < f.nsp; i++)
            for (size_t k = 0; k < lr->n; k++) {
                unsigned nb = map_off(lr, 1, lr->a[k].b); /* in cur */
                if (nb <= f.sp[i].b && f.sp[i].e <= nb + lr->a[k].nlen) {
                    sel[nsp++] = f.sp[i];
                    break;
                }
            }
        sp = sel;
    }
    v2 = malloc((l->n + 1) * sizeof *v2);
    if (!v2) {
        err = HT_ENOMEM;
        goto out;
    }
    memcpy(v2, l->v, l->n * sizeof *v2);
    for (size_t i = 0; i < l->n; i++)
        if (v2[i].rewritable)
            map_site(&v2[i], r, nr);
    l->n_splice_failed = 0;
    for (size_t j = 0; j < l->nsp; j++)
        if (!match_splice(l, v2, j, &f, r, nr))
            l->n_splice_failed++;
    err = emit(v2, l->n, l->main_file, cur, curlen, out);
out:
    for (size_t i = 0; i < nr; i++)
        free(r[i].a);
    free(v2); /* shallow copy: the strings belong to l */
    free(sel);
    free(cur);
    ht_sites_free(&f);
    return err;
}

ht_err ht__rewrite_text(struct ht_site_list *l, const char *src, size_t len,
                        FILE *out)
{
    if (l->nsp && l->argv && l->tu_name) {
        ht_err err = rewrite_spliced(l, src, len, out);
        if (err != HT_EPARSE)
            return err;
        l->n_splice_failed = l->nsp;
    }
    return emit(l->v, l->n, l->main_file, src, len, out);
}

ht_err ht_sites_write_tsv(const struct ht_site_list *l, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return HT_EIO;
    fputs("id\tkind\tfile\tline\tcol\tfunc\tmacro\ttype\tfield\trewritable\tccol\n", f);
    for (size_t i = 0; i < l->n + l->nh; i++) {
        const struct ht_site *s = i < l->n ? &l->v[i] : &l->hv[i - l->n];
        fprintf(f, "%" PRIu64 "\t%s\t%s\t%u\t%u\t%s\t%s\t%s\t%s\t%d\t%u\n", s->id,
                ht_site_kind_name(s->kind), s->file, s->line, s->col, s->func,
                s->macro, s->type, s->field, s->rewritable,
                s->dead ? 0 : s->ccol ? s->ccol : s->col);
    }
    return fclose(f) == 0 ? HT_OK : HT_EIO;
}
