/*
 * Type graph: record fields from libclang, cycles by Tarjan's strongly
 * connected components (see typegraph.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "typegraph_int.h"
#include "cxutil.h"

/* "node" for struct node, the typedef name of an anonymous record. */
static char *record_name(CXType t)
{
    char *s = ht__cx_take(clang_getTypeSpelling(t));
    if (!s)
        return NULL;
    const char *p = s;
    if (strncmp(p, "struct ", 7) == 0)
        p += 7;
    else if (strncmp(p, "union ", 6) == 0)
        p += 6;
    memmove(s, p, strlen(p) + 1);
    return s;
}

static int has_field(const struct ht_typegraph *g, const char *from,
                     const char *field)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->v[i].from, from) == 0 &&
            strcmp(g->v[i].field, field) == 0)
            return 1;
    return 0;
}

/* The record type reached from t through pointers and arrays: *to (owned)
 * and whether a pointer was crossed; *untyped if it ends at void *. */
static void target(CXType t, char **to, int *ptr, int *untyped)
{
    *to = NULL;
    *ptr = *untyped = 0;
    for (;;) {
        t = clang_getCanonicalType(t);
        if (t.kind == CXType_Pointer) {
            *ptr = 1;
            t = clang_getPointeeType(t);
        } else if (t.kind == CXType_ConstantArray ||
                   t.kind == CXType_IncompleteArray ||
                   t.kind == CXType_VariableArray) {
            t = clang_getArrayElementType(t);
        } else {
            break;
        }
    }
    if (t.kind == CXType_Record)
        *to = record_name(t);
    else if (t.kind == CXType_Void && *ptr)
        *untyped = 1;
}

struct fctx {
    struct ht_typegraph *g;
    char *from;
};

static enum CXChildVisitResult field_cb(CXCursor c, CXCursor p, CXClientData d)
{
    (void)p;
    struct fctx *f = d;
    if (clang_getCursorKind(c) != CXCursor_FieldDecl || f->g->err)
        return CXChildVisit_Continue;
    char *to;
    int ptr, untyped;
    target(clang_getCursorType(c), &to, &ptr, &untyped);
    if (!to && !untyped)
        return CXChildVisit_Continue;
    char *field = ht__cx_take(clang_getCursorSpelling(c));
    if (!field || !*field || has_field(f->g, f->from, field)) {
        free(field);
        free(to);
        return CXChildVisit_Continue;
    }
    struct ht_typegraph *g = f->g;
    if (g->n == g->cap) {
        size_t nc = g->cap ? 2 * g->cap : 32;
        struct ht_tg_field *nv = realloc(g->v, nc * sizeof *nv);
        if (!nv) {
            g->err = HT_ENOMEM;
            free(field);
            free(to);
            return CXChildVisit_Break;
        }
        g->v = nv;
        g->cap = nc;
    }
    CXFile file;
    unsigned line;
    clang_getExpansionLocation(clang_getCursorLocation(c), &file, &line, NULL,
                               NULL);
    char *fn = ht__cx_take(clang_File_tryGetRealPathName(file));
    if (fn && !*fn) {
        free(fn);
        fn = ht__cx_take(clang_getFileName(file));
    }
    g->v[g->n++] = (struct ht_tg_field){strdup(f->from), field, to, fn,
                                        line ? line : 1, to && !ptr};
    struct ht_tg_field *e = &g->v[g->n - 1];
    if (!e->from || !e->file || (!untyped && !e->to))
        g->err = HT_ENOMEM;
    return CXChildVisit_Continue;
}

static enum CXChildVisitResult rec_cb(CXCursor c, CXCursor p, CXClientData d)
{
    (void)p;
    struct ht_typegraph *g = d;
    if (g->err)
        return CXChildVisit_Break;
    if (clang_Location_isInSystemHeader(clang_getCursorLocation(c)))
        return CXChildVisit_Continue;
    enum CXCursorKind k = clang_getCursorKind(c);
    if ((k == CXCursor_StructDecl || k == CXCursor_UnionDecl) &&
        clang_isCursorDefinition(c)) {
        struct fctx f = {g, record_name(clang_getCursorType(c))};
        if (!f.from) {
            g->err = HT_ENOMEM;
            return CXChildVisit_Break;
        }
        g->nrecords++;
        clang_visitChildren(c, field_cb, &f);
        free(f.from);
    }
    return CXChildVisit_Recurse;
}

void ht__typegraph_add_tu(struct ht_typegraph *g, CXTranslationUnit tu)
{
    clang_visitChildren(clang_getTranslationUnitCursor(tu), rec_cb, g);
}

/* --- strongly connected components --------------------------------- */

struct tarjan {
    const struct ht_typegraph *g;
    char **names; /* distinct type names, sorted */
    size_t nn;
    size_t *from, *to; /* per edge: node index, or nn if untyped */
    int *index, *low, *on;
    size_t *stack, sp;
    int next;
    int *comp; /* node -> component number */
    int ncomp;
};

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t node_of(const struct tarjan *t, const char *name)
{
    if (!name)
        return t->nn;
    char *const *hit = bsearch(&name, t->names, t->nn, sizeof *t->names,
                               str_cmp);
    return hit ? (size_t)(hit - t->names) : t->nn;
}

static void strong(struct tarjan *t, size_t v)
{
    t->index[v] = t->low[v] = t->next++;
    t->stack[t->sp++] = v;
    t->on[v] = 1;
    for (size_t e = 0; e < t->g->n; e++) {
        if (t->from[e] != v || t->to[e] == t->nn)
            continue;
        size_t w = t->to[e];
        if (t->index[w] < 0) {
            strong(t, w);
            if (t->low[w] < t->low[v])
                t->low[v] = t->low[w];
        } else if (t->on[w] && t->index[w] < t->low[v]) {
            t->low[v] = t->index[w];
        }
    }
    if (t->low[v] == t->index[v]) {
        size_t w;
        do {
            w = t->stack[--t->sp];
            t->on[w] = 0;
            t->comp[w] = t->ncomp;
        } while (w != v);
        t->ncomp++;
    }
}

/* Shortest cycle from s back to s inside component c, as text. */
static char *cycle_text(const struct tarjan *t, size_t s, int c)
{
    size_t nn = t->nn;
    size_t *via = malloc(nn * sizeof *via), *q = malloc(nn * sizeof *q);
    char *txt = NULL;
    size_t tl = 0;
    if (!via || !q)
        goto out;
    for (size_t i = 0; i < nn; i++)
        via[i] = (size_t)-1;
    size_t qh = 0, qt = 0, last = (size_t)-1;
    q[qt++] = s;
    while (qh < qt && last == (size_t)-1) {
        size_t v = q[qh++];
        for (size_t e = 0; e < t->g->n && last == (size_t)-1; e++) {
            size_t w = t->to[e];
            if (t->from[e] != v || w == nn || t->comp[w] != c)
                continue;
            if (w == s)
                last = e;
            else if (via[w] == (size_t)-1) {
                via[w] = e;
                q[qt++] = w;
            }
        }
    }
    if (last == (size_t)-1)
        goto out;
    /* walk back from the closing edge; path edges in reverse */
    size_t np = 0;
    for (size_t v = t->from[last]; v != s; v = t->from[via[v]])
        q[np++] = via[v];
    FILE *f = open_memstream(&txt, &tl);
    if (!f)
        goto out;
    for (size_t i = np; i-- > 0;)
        fprintf(f, "%s.%s \xe2\x86\x92 ", t->g->v[q[i]].from,
                t->g->v[q[i]].field);
    fprintf(f, "%s.%s \xe2\x86\x92 %s", t->g->v[last].from,
            t->g->v[last].field, t->names[s]);
    if (fclose(f) != 0) {
        free(txt);
        txt = NULL;
    }
out:
    free(via);
    free(q);
    return txt;
}

static int cyc_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ht_tg_cycle *)a)->text,
                  ((const struct ht_tg_cycle *)b)->text);
}

static ht_err collect(struct tarjan *t, struct ht_tg_cycles *out)
{
    for (int c = 0; c < t->ncomp; c++) {
        size_t first = t->nn;
        for (size_t v = 0; v < t->nn; v++)
            if (t->comp[v] == c && first == t->nn)
                first = v; /* names are sorted: the smallest */
        size_t ne = 0;
        for (size_t e = 0; e < t->g->n; e++)
            ne += t->to[e] != t->nn && t->comp[t->from[e]] == c &&
                  t->comp[t->to[e]] == c;
        if (ne == 0) /* a single type without a self edge */
            continue;
        struct ht_tg_cycle *nv =
            realloc(out->v, (out->n + 1) * sizeof *nv);
        if (!nv)
            return HT_ENOMEM;
        out->v = nv;
        struct ht_tg_cycle *cy = &out->v[out->n];
        cy->edges = malloc(ne * sizeof *cy->edges);
        cy->text = cycle_text(t, first, c);
        cy->nedges = 0;
        out->n++;
        if (!cy->edges || !cy->text)
            return HT_ENOMEM;
        for (size_t e = 0; e < t->g->n; e++)
            if (t->to[e] != t->nn && t->comp[t->from[e]] == c &&
                t->comp[t->to[e]] == c)
                cy->edges[cy->nedges++] = &t->g->v[e];
    }
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, cyc_cmp);
    return HT_OK;
}

ht_err ht_typegraph_cycles(const struct ht_typegraph *g,
                           struct ht_tg_cycles *out)
{
    memset(out, 0, sizeof *out);
    struct tarjan t;
    memset(&t, 0, sizeof t);
    t.g = g;
    ht_err err = HT_ENOMEM;
    size_t cap = 2 * g->n + 1;
    t.names = malloc(cap * sizeof *t.names);
    if (!t.names)
        return HT_ENOMEM;
    for (size_t i = 0; i < g->n; i++) {
        t.names[t.nn++] = g->v[i].from;
        if (g->v[i].to)
            t.names[t.nn++] = g->v[i].to;
    }
    qsort(t.names, t.nn, sizeof *t.names, str_cmp);
    size_t k = 0;
    for (size_t i = 0; i < t.nn; i++)
        if (k == 0 || strcmp(t.names[k - 1], t.names[i]) != 0)
            t.names[k++] = t.names[i];
    t.nn = k;
    t.from = malloc(cap * sizeof *t.from);
    t.to = malloc(cap * sizeof *t.to);
    t.index = malloc((t.nn + 1) * sizeof *t.index);
    t.low = malloc((t.nn + 1) * sizeof *t.low);
    t.on = calloc(t.nn + 1, sizeof *t.on);
    t.stack = malloc((t.nn + 1) * sizeof *t.stack);
    t.comp = malloc((t.nn + 1) * sizeof *t.comp);
    if (!t.from || !t.to || !t.index || !t.low || !t.on || !t.stack ||
        !t.comp)
        goto out;
    for (size_t i = 0; i < g->n; i++) {
        t.from[i] = node_of(&t, g->v[i].from);
        t.to[i] = node_of(&t, g->v[i].to);
    }
    for (size_t v = 0; v < t.nn; v++)
        t.index[v] = -1;
    for (size_t v = 0; v < t.nn; v++)
        if (t.index[v] < 0)
            strong(&t, v);
    err = collect(&t, out);
out:
    free(t.names);
    free(t.from);
    free(t.to);
    free(t.index);
    free(t.low);
    free(t.on);
    free(t.stack);
    free(t.comp);
    if (err)
        ht_tg_cycles_free(out);
    return err;
}

void ht_tg_cycles_free(struct ht_tg_cycles *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].text);
        free(c->v[i].edges);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

void ht_typegraph_free(struct ht_typegraph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->v[i].from);
        free(g->v[i].field);
        free(g->v[i].to);
        free(g->v[i].file);
    }
    free(g->v);
    memset(g, 0, sizeof *g);
}
