/*
 * Site finder: one libclang parse per TU, sites of the main file (and the
 * allocator/free/indirect calls of non-system headers, listed apart).
 * See sites.h for the invariants; '=' is detected structurally
 * (prototype-findings §1.4 method B) and cross-checked with the token
 * between the operands when the operator is in the file text.
 */
#include <clang-c/Index.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macroexp.h"
#include "sites.h"
#include "cxutil.h"
#include "typegraph_int.h"

static const char *const kind_names[] = {"alloc", "free",  "icall", "store",
                                         "func",  "incref", "decref"};

const char *ht_site_kind_name(enum ht_site_kind k)
{
    return (unsigned)k < HT_SITE_KIND_COUNT ? kind_names[k] : "?";
}

struct macro_exp {
    unsigned b, e; /* offsets of the invocation */
    char *name;
    CXCursor c;    /* its MacroExpansion cursor */
};

struct walk {
    CXTranslationUnit tu;
    CXFile main;
    const struct ht_site_opts *o;
    struct ht_site_list *l;
    struct macro_exp *mx;
    size_t nmx, capmx;
    const char *buf; /* main file text (libclang's), bufn bytes */
    size_t bufn;
    char *macro_names[16]; /* configured names that are also macros */
    size_t n_macro_names;
    int dead; /* > 0 inside a never-selected `?:` branch (ht_site.dead) */
    ht_err err;
};

static char *xdup(const char *s)
{
    return strdup(s ? s : "");
}

/* See cxutil.h. */
char *ht__cx_take(CXString s)
{
    char *r = xdup(clang_getCString(s));
    clang_disposeString(s);
    return r;
}

static int in_list(const char *n, const char *const *v, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (strcmp(n, v[i]) == 0)
            return 1;
    return 0;
}

static int is_alloc_name(const char *n, int *is_free)
{
    static const char *const a[] = {"malloc",        "calloc",  "realloc",
                                    "strdup",        "strndup", "aligned_alloc",
                                    "posix_memalign", "reallocarray",
                                    "valloc",        "memalign", "pvalloc"};
    *is_free = strcmp(n, "free") == 0;
    if (*is_free)
        return 1;
    return in_list(n, a, sizeof a / sizeof a[0]);
}

/* Expansion location of loc in the main file: offset/line/col; 0 if the
 * location is elsewhere. */
static int main_loc(struct walk *w, CXSourceLocation loc, unsigned *off,
                    unsigned *line, unsigned *col)
{
    CXFile f;
    unsigned l, c, o;
    clang_getExpansionLocation(loc, &f, &l, &c, &o);
    if (!f || !clang_File_isEqual(f, w->main))
        return 0;
    if (off)
        *off = o;
    if (line)
        *line = l;
    if (col)
        *col = c;
    return 1;
}

static const char *macro_at(struct walk *w, unsigned off)
{
    const char *best = NULL;
    unsigned bw = ~0u;
    for (size_t i = 0; i < w->nmx; i++)
        if (w->mx[i].b <= off && off < w->mx[i].e &&
            w->mx[i].e - w->mx[i].b < bw) {
            bw = w->mx[i].e - w->mx[i].b;
            best = w->mx[i].name;
        }
    return best;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h & 0x7fffffffffffffffull;
}

static struct ht_site *add_site(struct walk *w, enum ht_site_kind k,
                                CXCursor c, unsigned line, unsigned col,
                                const char *func, const char *macro)
{
    struct ht_site_list *l = w->l;
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 64;
        struct ht_site *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            w->err = HT_ENOMEM;
            return NULL;
        }
        l->v = nv;
        l->cap = nc;
    }
    (void)c;
    struct ht_site *s = &l->v[l->n];
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->dead = w->dead > 0;
    s->seq = (unsigned)l->n;
    s->file = xdup(l->main_file);
    s->line = line;
    s->col = col;
    s->func = xdup(func);
    s->macro = xdup(macro);
    s->type = xdup("");
    s->field = xdup("");
    s->callee = xdup("");
    if (!s->file || !s->func || !s->macro || !s->type || !s->field ||
        !s->callee) {
        w->err = HT_ENOMEM;
        return NULL;
    }
    l->n++;
    return s;
}

struct kids {
    CXCursor c[3];
    int n;
};

static enum CXChildVisitResult kid_cb(CXCursor c, CXCursor p, CXClientData d)
{
    (void)p;
    struct kids *k = d;
    if (k->n < 3)
        k->c[k->n] = c;
    k->n++;
    return CXChildVisit_Continue;
}

static struct kids kids_of(CXCursor c)
{
    struct kids k;
    memset(&k, 0, sizeof k);
    clang_visitChildren(c, kid_cb, &k);
    return k;
}

static int is_ptr(CXType t)
{
    return clang_getCanonicalType(t).kind == CXType_Pointer;
}

static int same_type(CXType a, CXType b)
{
    return clang_equalTypes(clang_getCanonicalType(a),
                            clang_getCanonicalType(b));
}

/* Bare lvalue shape (no implicit lvalue-to-rvalue cast around it). */
static int is_bare_lvalue(CXCursor c)
{
    switch (clang_getCursorKind(c)) {
    case CXCursor_DeclRefExpr:
    case CXCursor_MemberRefExpr:
    case CXCursor_ArraySubscriptExpr:
    case CXCursor_CompoundLiteralExpr:
    case CXCursor_GenericSelectionExpr:
        return 1;
    case CXCursor_UnaryOperator: {
        struct kids k = kids_of(c);
        if (k.n != 1)
            return 0;
        CXType ct = clang_getCanonicalType(clang_getCursorType(k.c[0]));
        return ct.kind == CXType_Pointer &&
               same_type(clang_getPointeeType(ct), clang_getCursorType(c));
    }
    case CXCursor_ParenExpr: {
        struct kids k = kids_of(c);
        return k.n == 1 && is_bare_lvalue(k.c[0]);
    }
    default:
        return 0;
    }
}

static CXCursor strip_parens(CXCursor c)
{
    while (clang_getCursorKind(c) == CXCursor_ParenExpr) {
        struct kids k = kids_of(c);
        if (k.n != 1)
            break;
        c = k.c[0];
    }
    return c;
}

static void range_offs(struct walk *w, CXCursor c, unsigned *b, unsigned *e,
                       int *ok)
{
    CXSourceRange r = clang_getCursorExtent(c);
    CXSourceLocation lb = clang_getRangeStart(r), le = clang_getRangeEnd(r);
    if (!main_loc(w, lb, b, NULL, NULL) || !main_loc(w, le, e, NULL, NULL))
        *ok = 0;
}

/* The single token between lhs_e and rhs_b: its offset if it is '='. */
static int token_assign(struct walk *w, unsigned lhs_e, unsigned rhs_b,
                        unsigned *op)
{
    CXSourceRange r =
        clang_getRange(clang_getLocationForOffset(w->tu, w->main, lhs_e),
                       clang_getLocationForOffset(w->tu, w->main, rhs_b));
    CXToken *t = NULL;
    unsigned nt = 0, found = 0, fo = 0;
    int is_eq = 0;
    clang_tokenize(w->tu, r, &t, &nt);
    for (unsigned i = 0; i < nt; i++) {
        unsigned o;
        clang_getSpellingLocation(clang_getTokenLocation(w->tu, t[i]), NULL,
                                  NULL, NULL, &o);
        if (o < lhs_e || o >= rhs_b)
            continue;
        found++;
        fo = o;
        CXString s = clang_getTokenSpelling(w->tu, t[i]);
        is_eq = strcmp(clang_getCString(s), "=") == 0;
        clang_disposeString(s);
    }
    clang_disposeTokens(w->tu, t, nt);
    *op = fo;
    return found == 1 && is_eq;
}

static void do_store(struct walk *w, CXCursor c, const char *func)
{
    struct kids k = kids_of(c);
    if (k.n != 2)
        return;
    CXCursor lhs = k.c[0], rhs = k.c[1];
    CXType lt = clang_getCursorType(lhs);
    if (!is_ptr(lt) || !is_bare_lvalue(lhs) ||
        !same_type(clang_getCursorType(c), lt))
        return;
    CXCursor bl = strip_parens(lhs);
    enum CXCursorKind bk = clang_getCursorKind(bl);
    char *type = NULL, *field = NULL;
    if (bk == CXCursor_DeclRefExpr) {
        CXCursor d = clang_getCursorReferenced(bl);
        if (clang_getCursorKind(d) != CXCursor_VarDecl)
            return;
        enum CX_StorageClass sc = clang_Cursor_getStorageClass(d);
        if (clang_getCursorKind(clang_getCursorSemanticParent(d)) !=
                CXCursor_TranslationUnit &&
            sc != CX_SC_Static && sc != CX_SC_Extern)
            return; /* a local variable: not a heap/global slot */
    } else if (bk == CXCursor_MemberRefExpr) {
        CXCursor fd = clang_getCursorReferenced(bl);
        CXCursor rec = clang_getCursorSemanticParent(fd);
        type = ht__cx_take(clang_getTypeSpelling(clang_getCursorType(rec)));
        field = ht__cx_take(clang_getCursorSpelling(fd));
    } else if (bk == CXCursor_CompoundLiteralExpr ||
               bk == CXCursor_GenericSelectionExpr) {
        return;
    }
    if (!type)
        type = ht__cx_take(clang_getTypeSpelling(lt));
    unsigned off, line, col;
    CXSourceLocation loc = clang_getCursorLocation(c);
    if (!main_loc(w, loc, &off, &line, &col)) {
        free(type);
        free(field);
        return;
    }
    int ok = 1;
    unsigned lb = 0, le = 0, rb = 0, re = 0, op = 0;
    range_offs(w, lhs, &lb, &le, &ok);
    range_offs(w, rhs, &rb, &re, &ok);
    range_offs(w, c, &(unsigned){0}, &(unsigned){0}, &ok);
    if (ok && !(lb < le && le <= rb && rb < re))
        ok = 0;
    if (ok && !token_assign(w, le, rb, &op))
        ok = 0;
    /* operands may start/end with a whole macro invocation (NULL), but
     * no edit point may fall inside one */
    for (size_t i = 0; ok && i < w->nmx; i++) {
        unsigned mb = w->mx[i].b, me = w->mx[i].e;
        if ((mb < lb && lb < me) || (mb <= op && op < me) ||
            (mb < re && re < me))
            ok = 0;
    }
    const char *mac = ok ? NULL : macro_at(w, off);
    struct ht_site *s = add_site(w, HT_SITE_STORE, c, line, col, func, mac);
    if (s) {
        free(s->type);
        s->type = type;
        if (field) {
            free(s->field);
            s->field = field;
        }
        s->rewritable = ok;
        s->off = off;
        s->lhs_b = lb, s->lhs_e = le, s->op = op, s->rhs_b = rb,
        s->rhs_e = re;
    } else {
        free(type);
        free(field);
    }
}

/* The call or macro invocation `NAME ( A1 , A2 ... )` spanning [b, e):
 * the number of arguments, with the text of argument want (1-based) in
 * [*ab, *ae); -1 if the text is not of that shape. */
static int call_args(struct walk *w, unsigned b, unsigned e, unsigned want,
                     unsigned *ab, unsigned *ae)
{
    CXSourceRange r =
        clang_getRange(clang_getLocationForOffset(w->tu, w->main, b),
                       clang_getLocationForOffset(w->tu, w->main, e));
    CXToken *t = NULL;
    unsigned nt = 0, cur_b = 0, k = 0;
    int depth = 0, nargs = -1, closed = 0;
    clang_tokenize(w->tu, r, &t, &nt);
    for (unsigned i = 0; i < nt && nargs != -2; i++) {
        unsigned o;
        clang_getSpellingLocation(clang_getTokenLocation(w->tu, t[i]), NULL,
                                  NULL, NULL, &o);
        if (o >= e)
            break;
        CXString s = clang_getTokenSpelling(w->tu, t[i]);
        const char *p = clang_getCString(s);
        int open = strcmp(p, "(") == 0, close = strcmp(p, ")") == 0;
        int comma = strcmp(p, ",") == 0;
        if (closed || (i == 0 && clang_getTokenKind(t[i]) !=
                                     CXToken_Identifier) ||
            (i == 1 && !open)) {
            nargs = -2; /* text after the ')' or not NAME ( */
        } else if (open && depth++ == 0) {
            cur_b = o + 1;
            k = 1;
        } else if ((close && --depth == 0) || (comma && depth == 1)) {
            if (k == want) {
                *ab = cur_b;
                *ae = o;
            }
            nargs = (int)k;
            k++;
            cur_b = o + 1;
            closed = close;
        }
        clang_disposeString(s);
    }
    clang_disposeTokens(w->tu, t, nt);
    if (!closed || nargs < 1 || want > (unsigned)nargs ||
        (want && *ab >= *ae))
        return -1;
    return nargs;
}

/* The single argument text "( ARG )" of the invocation in [b, e). */
static int paren_arg(struct walk *w, unsigned b, unsigned e, unsigned *ab,
                     unsigned *ae)
{
    return call_args(w, b, e, 1, ab, ae) == 1;
}

static const struct ht_site_fn *find_fn(const char *n,
                                        const struct ht_site_fn *v, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (strcmp(n, v[i].name) == 0)
            return &v[i];
    return NULL;
}

static int in_refcount_macro(struct walk *w, unsigned off)
{
    for (size_t i = 0; i < w->nmx; i++)
        if (w->mx[i].b <= off && off < w->mx[i].e &&
            (in_list(w->mx[i].name, w->o->inc_names, w->o->n_inc) ||
             in_list(w->mx[i].name, w->o->dec_names, w->o->n_dec)))
            return 1;
    return 0;
}

static unsigned line_of(struct walk *w, unsigned off)
{
    unsigned line = 0;
    clang_getExpansionLocation(clang_getLocationForOffset(w->tu, w->main, off),
                               NULL, &line, NULL, NULL);
    return line;
}

/* A configured one-argument function called by the body of the macro
 * invocation around off: find the whole lines holding the invocation, where
 * a #define/#undef pair can go (not inside another invocation, not after a
 * backslash continuation). 1 if s was made rewritable. */
static int redef_site(struct walk *w, struct ht_site *s, unsigned off,
                      CXCursor fn)
{
    if (!w->buf || !s->callee ||
        in_list(s->callee, (const char *const *)w->macro_names,
                w->n_macro_names) ||
        clang_Cursor_getNumArguments(fn) != 1 ||
        clang_isFunctionTypeVariadic(clang_getCursorType(fn)))
        return 0;
    unsigned mb = off, me = off;
    for (size_t i = 0; i < w->nmx; i++)
        if (w->mx[i].b <= off && off < w->mx[i].e &&
            w->mx[i].e - w->mx[i].b > me - mb) {
            mb = w->mx[i].b;
            me = w->mx[i].e;
        }
    if (me == mb || me > w->bufn)
        return 0;
    unsigned b = mb, e = me;
    while (b > 0 && w->buf[b - 1] != '\n')
        b--;
    while (e < w->bufn && w->buf[e] != '\n')
        e++;
    if (e >= w->bufn || (e > 0 && w->buf[e - 1] == '\\') ||
        (b >= 2 && w->buf[b - 2] == '\\'))
        return 0;
    e++; /* start of the next line */
    for (size_t i = 0; i < w->nmx; i++)
        if ((w->mx[i].b < b && b < w->mx[i].e) ||
            (w->mx[i].b < e && e < w->mx[i].e))
            return 0;
    s->redef_b = b;
    s->redef_e = e;
    s->redef_line = line_of(w, mb);
    s->redef_line2 = line_of(w, me) + 1;
    return s->redef_line > 0;
}

/* The function a call names, also through parentheses ((f)(x), which
 * suppresses a function-like macro f); else what libclang references. */
static CXCursor direct_callee(CXCursor call)
{
    CXCursor ref = clang_getCursorReferenced(call);
    if (clang_getCursorKind(ref) == CXCursor_FunctionDecl)
        return ref;
    struct kids k = kids_of(call);
    if (k.n < 1)
        return ref;
    CXCursor e = k.c[0];
    for (int depth = 0; depth < 16; depth++) {
        enum CXCursorKind ek = clang_getCursorKind(e);
        if (ek == CXCursor_DeclRefExpr) {
            CXCursor d = clang_getCursorReferenced(e);
            return clang_getCursorKind(d) == CXCursor_FunctionDecl ? d : ref;
        }
        struct kids in = kids_of(e);
        if ((ek != CXCursor_ParenExpr && ek != CXCursor_UnexposedExpr) ||
            in.n != 1)
            break;
        e = in.c[0];
    }
    return ref;
}

static void do_call(struct walk *w, CXCursor c, const char *func)
{
    unsigned off, line, col;
    if (!main_loc(w, clang_getCursorLocation(c), &off, &line, &col))
        return;
    CXCursor ref = direct_callee(c);
    int from_macro = !clang_Location_isFromMainFile(clang_getCursorLocation(c));
    const char *mac = from_macro ? macro_at(w, off) : NULL;
    if (clang_getCursorKind(ref) != CXCursor_FunctionDecl) {
        struct ht_site *s = add_site(w, HT_SITE_ICALL, c, line, col, func, mac);
        if (s) {
            free(s->callee);
            s->callee = ht__cx_take(clang_getCursorSpelling(c));
        }
        return;
    }
    char *name = ht__cx_take(clang_getCursorSpelling(ref));
    if (!name)
        return;
    int is_free;
    enum ht_site_kind k = HT_SITE_KIND_COUNT;
    const struct ht_site_fn *fa =
        find_fn(name, w->o->alloc_fns, w->o->n_alloc_fns);
    const struct ht_site_fn *ff =
        fa ? NULL : find_fn(name, w->o->free_fns, w->o->n_free_fns);
    if (fa || ff)
        k = fa ? HT_SITE_ALLOC : HT_SITE_FREE;
    else if (is_alloc_name(name, &is_free))
        k = is_free ? HT_SITE_FREE : HT_SITE_ALLOC;
    else if (in_list(name, w->o->inc_names, w->o->n_inc))
        k = HT_SITE_INCREF;
    else if (in_list(name, w->o->dec_names, w->o->n_dec))
        k = HT_SITE_DECREF;
    if (k == HT_SITE_KIND_COUNT ||
        ((k == HT_SITE_INCREF || k == HT_SITE_DECREF) && from_macro &&
         in_refcount_macro(w, off))) {
        free(name);
        return; /* recorded once, as the macro site */
    }
    struct ht_site *s = add_site(w, k, c, line, col, func, mac);
    if (!s) {
        free(name);
        return;
    }
    free(s->callee);
    s->callee = name;
    if (k == HT_SITE_INCREF || k == HT_SITE_DECREF) {
        unsigned b = 0, e = 0;
        int ok = !from_macro;
        range_offs(w, c, &b, &e, &ok);
        if (from_macro)
            s->rewritable = redef_site(w, s, off, ref);
        else
            s->rewritable = ok && paren_arg(w, b, e, &s->arg_b, &s->arg_e);
    } else if (fa || ff) {
        unsigned b = 0, e = 0;
        int ok = !from_macro;
        range_offs(w, c, &b, &e, &ok);
        s->fn_arg = fa ? fa->arg : ff->arg;
        s->call_b = b;
        s->call_e = e;
        s->rewritable = ok && call_args(w, b, e, s->fn_arg, &s->arg_b,
                                        &s->arg_e) > 0;
    }
}

/* sizeof(T) inside an allocation's arguments. */
struct sz {
    struct walk *w;
    char *type;
};
static enum CXChildVisitResult sz_cb(CXCursor c, CXCursor p, CXClientData d)
{
    (void)p;
    struct sz *z = d;
    if (z->type)
        return CXChildVisit_Break;
    if (clang_getCursorKind(c) == CXCursor_UnaryExpr) {
        CXToken *t = NULL;
        unsigned nt = 0;
        clang_tokenize(z->w->tu, clang_getCursorExtent(c), &t, &nt);
        int is_sizeof = 0;
        if (nt) {
            CXString s = clang_getTokenSpelling(z->w->tu, t[0]);
            is_sizeof = strcmp(clang_getCString(s), "sizeof") == 0;
            clang_disposeString(s);
        }
        clang_disposeTokens(z->w->tu, t, nt);
        if (is_sizeof) {
            struct kids k = kids_of(c);
            if (k.n == 1 && clang_getCursorKind(k.c[0]) == CXCursor_TypeRef)
                z->type = ht__cx_take(clang_getTypeSpelling(
                    clang_getCursorType(k.c[0])));
            else if (k.n == 1)
                z->type = ht__cx_take(clang_getTypeSpelling(
                    clang_getCursorType(k.c[0])));
            return CXChildVisit_Break;
        }
    }
    return CXChildVisit_Recurse;
}

struct fnctx {
    struct walk *w;
    char *func;
};

static enum CXChildVisitResult visit(CXCursor c, CXCursor p, CXClientData d);

/* A call in the body of a function defined in a header: an alloc/free/
 * icall site of ht_site_list.hv if the header is not a system header. */
static void do_header_call(struct walk *w, CXCursor c, const char *func)
{
    CXSourceLocation loc = clang_getCursorLocation(c);
    CXFile f;
    unsigned line, col;
    clang_getExpansionLocation(loc, &f, &line, &col, NULL);
    if (!f || clang_File_isEqual(f, w->main) ||
        clang_Location_isInSystemHeader(loc))
        return;
    CXCursor ref = direct_callee(c);
    enum ht_site_kind k = HT_SITE_ICALL;
    char *callee = ht__cx_take(clang_getCursorSpelling(
        clang_getCursorKind(ref) == CXCursor_FunctionDecl ? ref : c));
    int is_free;
    if (clang_getCursorKind(ref) == CXCursor_FunctionDecl) {
        if (!callee || !is_alloc_name(callee, &is_free)) {
            free(callee);
            return;
        }
        k = is_free ? HT_SITE_FREE : HT_SITE_ALLOC;
    }
    struct ht_site_list *l = w->l;
    if (l->nh == l->hcap) {
        size_t nc = l->hcap ? 2 * l->hcap : 16;
        struct ht_site *nv = realloc(l->hv, nc * sizeof *nv);
        if (!nv) {
            free(callee);
            w->err = HT_ENOMEM;
            return;
        }
        l->hv = nv;
        l->hcap = nc;
    }
    struct ht_site *s = &l->hv[l->nh];
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->dead = w->dead > 0;
    s->file = ht__cx_take(clang_File_tryGetRealPathName(f));
    if (s->file && !*s->file) {
        free(s->file);
        s->file = ht__cx_take(clang_getFileName(f));
    }
    s->line = line;
    s->col = col;
    s->func = xdup(func);
    s->macro = xdup("");
    s->field = xdup("");
    s->callee = callee;
    struct sz z = {w, NULL};
    if (k == HT_SITE_ALLOC)
        clang_visitChildren(c, sz_cb, &z);
    s->type = z.type ? z.type : xdup("");
    l->nh++;
    if (!s->file || !s->func || !s->macro || !s->field || !s->callee ||
        !s->type) {
        w->err = HT_ENOMEM;
        return;
    }
    /* the key of finish(): same line:col and kind -> ":n" suffix */
    unsigned occ = 0;
    for (size_t j = 0; j + 1 < l->nh; j++)
        occ += l->hv[j].kind == k && l->hv[j].line == line &&
               l->hv[j].col == col && strcmp(l->hv[j].file, s->file) == 0;
    char key[4200];
    snprintf(key, sizeof key, "%s:%s:%u:%u", ht_site_kind_name(k), s->file,
             line, col);
    if (occ)
        snprintf(key + strlen(key), sizeof key - strlen(key), ":%u", occ);
    s->id = fnv(key);
}

static int visit_folded_cond(CXCursor c, struct fnctx *fc, CXCursorVisitor v);

static enum CXChildVisitResult hvisit(CXCursor c, CXCursor p, CXClientData d)
{
    (void)p;
    struct fnctx *fc = d;
    if (fc->w->err)
        return CXChildVisit_Break;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_ConditionalOperator && visit_folded_cond(c, fc, hvisit))
        return CXChildVisit_Continue;
    if (k == CXCursor_CallExpr)
        do_header_call(fc->w, c, fc->func);
    return CXChildVisit_Recurse;
}

/* v on c and, unless it says otherwise, c's subtree. */
static void visit_tree(CXCursor c, CXCursor p, struct fnctx *fc,
                       CXCursorVisitor v)
{
    if (v(c, p, fc) == CXChildVisit_Recurse)
        clang_visitChildren(c, v, fc);
}

/* `cond ? a : b` with an integer constant condition (gcc folds it, and
 * may then give the surviving call the column of the `:`): the other
 * branch's sites are marked dead, so the line keeps one live call site
 * for the store's same-line join. 0 if cond is not a constant. */
static int visit_folded_cond(CXCursor c, struct fnctx *fc, CXCursorVisitor v)
{
    struct kids k = kids_of(c);
    if (k.n != 3)
        return 0;
    CXEvalResult r = clang_Cursor_Evaluate(k.c[0]);
    if (!r)
        return 0;
    int is_int = clang_EvalResult_getKind(r) == CXEval_Int;
    int val = is_int && clang_EvalResult_getAsLongLong(r) != 0;
    clang_EvalResult_dispose(r);
    if (!is_int)
        return 0;
    visit_tree(k.c[0], c, fc, v);
    for (int i = 1; i <= 2; i++) {
        int dead = (i == 1) != val;
        fc->w->dead += dead;
        visit_tree(k.c[i], c, fc, v);
        fc->w->dead -= dead;
    }
    return 1;
}

static enum CXChildVisitResult visit(CXCursor c, CXCursor p, CXClientData d)
{
    (void)p;
    struct fnctx *fc = d;
    struct walk *w = fc->w;
    if (w->err)
        return CXChildVisit_Break;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_ConditionalOperator && visit_folded_cond(c, fc, visit))
        return CXChildVisit_Continue;
    if (k == CXCursor_FunctionDecl && clang_isCursorDefinition(c)) {
        unsigned off, line, col;
        if (!main_loc(w, clang_getCursorLocation(c), &off, &line, &col)) {
            if (!clang_Location_isInSystemHeader(clang_getCursorLocation(c))) {
                struct fnctx sub = {w, ht__cx_take(clang_getCursorSpelling(c))};
                if (sub.func)
                    clang_visitChildren(c, hvisit, &sub);
                free(sub.func);
            }
            return CXChildVisit_Continue;
        }
        char *name = ht__cx_take(clang_getCursorSpelling(c));
        int fm = !clang_Location_isFromMainFile(clang_getCursorLocation(c));
        add_site(w, HT_SITE_FUNC, c, line, col, name, fm ? macro_at(w, off) : NULL);
        struct fnctx sub = {w, name};
        clang_visitChildren(c, visit, &sub);
        free(name);
        return CXChildVisit_Continue;
    }
    if (k == CXCursor_CallExpr) {
        size_t before = w->l->n;
        do_call(w, c, fc->func);
        if (w->l->n > before && w->l->v[before].kind == HT_SITE_ALLOC) {
            struct sz z = {w, NULL};
            clang_visitChildren(c, sz_cb, &z);
            if (z.type) {
                free(w->l->v[before].type);
                w->l->v[before].type = z.type;
            }
        }
    } else if (k == CXCursor_BinaryOperator && !w->o->no_stores) {
        do_store(w, c, fc->func);
    }
    return CXChildVisit_Recurse;
}

static enum CXChildVisitResult macro_cb(CXCursor c, CXCursor p, CXClientData d)
{
    (void)p;
    struct walk *w = d;
    if (clang_getCursorKind(c) == CXCursor_MacroDefinition) {
        /* a configured function that is also a macro (GLib's
         * g_object_ref) must not be redefined: see redef_site() */
        CXString n = clang_getCursorSpelling(c);
        const char *name = clang_getCString(n);
        if ((in_list(name, w->o->inc_names, w->o->n_inc) ||
             in_list(name, w->o->dec_names, w->o->n_dec)) &&
            w->n_macro_names < sizeof w->macro_names / sizeof *w->macro_names &&
            (w->macro_names[w->n_macro_names] = xdup(name)) != NULL)
            w->n_macro_names++;
        clang_disposeString(n);
        return CXChildVisit_Continue;
    }
    if (clang_getCursorKind(c) != CXCursor_MacroExpansion)
        return CXChildVisit_Continue;
    unsigned b, e;
    CXSourceRange r = clang_getCursorExtent(c);
    if (!main_loc(w, clang_getRangeStart(r), &b, NULL, NULL) ||
        !main_loc(w, clang_getRangeEnd(r), &e, NULL, NULL))
        return CXChildVisit_Continue;
    if (w->nmx == w->capmx) {
        size_t nc = w->capmx ? 2 * w->capmx : 64;
        struct macro_exp *nv = realloc(w->mx, nc * sizeof *nv);
        if (!nv) {
            w->err = HT_ENOMEM;
            return CXChildVisit_Break;
        }
        w->mx = nv;
        w->capmx = nc;
    }
    char *name = ht__cx_take(clang_getCursorSpelling(c));
    w->mx[w->nmx++] = (struct macro_exp){b, e, name, c};
    /* configured refcount macro: one site */
    int inc = in_list(name, w->o->inc_names, w->o->n_inc);
    int dec = in_list(name, w->o->dec_names, w->o->n_dec);
    if (inc || dec) {
        unsigned line = 0, col = 0;
        main_loc(w, clang_getRangeStart(r), NULL, &line, &col);
        struct ht_site *s = add_site(w, inc ? HT_SITE_INCREF : HT_SITE_DECREF,
                                     c, line, col, "", name);
        if (s) {
            free(s->callee);
            s->callee = xdup(name);
            s->rewritable = paren_arg(w, b, e, &s->arg_b, &s->arg_e);
        }
    }
    return CXChildVisit_Continue;
}

static int site_cmp(const void *a, const void *b)
{
    const struct ht_site *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A redefinition must not cover another rewritten call of the same
 * function (it would record twice) nor overlap another redefinition. */
static void drop_redef_clashes(struct ht_site_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct ht_site *s = &l->v[i];
        if (!s->redef_e || !s->rewritable)
            continue;
        for (size_t j = 0; j < l->n; j++) {
            const struct ht_site *t = &l->v[j];
            if (j == i || !t->rewritable || strcmp(t->callee, s->callee) != 0)
                continue;
            int clash = t->redef_e ? j < i && t->redef_b < s->redef_e &&
                                         s->redef_b < t->redef_e
                                   : s->redef_b <= t->arg_b &&
                                         t->arg_b < s->redef_e;
            if (clash) {
                s->rewritable = 0;
                break;
            }
        }
    }
}

/* Fill the enclosing function of macro refcount sites; assign ids. */
static ht_err finish(struct ht_site_list *l)
{
    if (l->n) /* l->v is NULL for a file without sites */
        qsort(l->v, l->n, sizeof *l->v, site_cmp);
    drop_redef_clashes(l);
    const char *cur = "";
    for (size_t i = 0; i < l->n; i++) {
        struct ht_site *s = &l->v[i];
        if (s->kind == HT_SITE_FUNC)
            cur = s->func;
        else if (!*s->func && (s->kind == HT_SITE_INCREF ||
                               s->kind == HT_SITE_DECREF)) {
            free(s->func);
            s->func = xdup(cur);
            if (!s->func)
                return HT_ENOMEM;
        }
        char key[4200];
        snprintf(key, sizeof key, "%s:%s:%u:%u", ht_site_kind_name(s->kind),
                 s->file, s->line, s->col);
        unsigned occ = 0;
        for (size_t j = i; j-- > 0;) {
            struct ht_site *t = &l->v[j];
            if (t->line != s->line || t->col != s->col)
                break;
            if (t->kind == s->kind)
                occ++;
        }
        if (occ)
            snprintf(key + strlen(key), sizeof key - strlen(key), ":%u", occ);
        s->id = fnv(key);
    }
    return HT_OK;
}

/* 1 if an edit point of a rewritable site falls strictly inside (b, e):
 * that text must stay as it is. */
static int edits_inside(const struct ht_site_list *l, unsigned b, unsigned e)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct ht_site *s = &l->v[i];
        if (!s->rewritable)
            continue;
        const unsigned p[] = {s->lhs_b,  s->lhs_e,  s->op,      s->rhs_b,
                              s->rhs_e,  s->arg_b,  s->arg_e,   s->call_b,
                              s->call_e, s->redef_b, s->redef_e};
        for (size_t k = 0; k < sizeof p / sizeof p[0]; k++)
            if (b < p[k] && p[k] < e)
                return 1;
    }
    return 0;
}

/* Stores not rewritable because of a macro: the outermost invocation
 * around each becomes a splice (sites.h) if it can be expanded and holds
 * no other edit point. */
static ht_err find_splices(struct walk *w)
{
    struct ht_site_list *l = w->l;
    for (size_t i = 0; i < l->n; i++) {
        struct ht_site *s = &l->v[i];
        if (s->kind != HT_SITE_STORE || s->rewritable || !*s->macro)
            continue;
        size_t best = w->nmx;
        for (size_t j = 0; j < w->nmx; j++)
            if (w->mx[j].b <= s->off && s->off < w->mx[j].e &&
                (best == w->nmx ||
                 w->mx[j].e - w->mx[j].b > w->mx[best].e - w->mx[best].b))
                best = j;
        if (best == w->nmx)
            continue;
        unsigned b = w->mx[best].b, e = w->mx[best].e;
        for (size_t j = 0; j < l->nsp && !s->splice; j++)
            if (l->sp[j].b == b && l->sp[j].e == e)
                s->splice = (unsigned)j + 1;
        if (s->splice || edits_inside(l, b, e))
            continue;
        char *t = ht__macro_expand(w->tu, w->main, w->mx[best].c, b, e,
                                   w->buf, w->bufn);
        if (!t)
            continue;
        struct ht_splice *nv = realloc(l->sp, (l->nsp + 1) * sizeof *nv);
        if (!nv) {
            free(t);
            return HT_ENOMEM;
        }
        l->sp = nv;
        l->sp[l->nsp++] = (struct ht_splice){b, e, t};
        s->splice = (unsigned)l->nsp;
    }
    /* sites come in line order, so the splices in offset order; keep
     * none if that ever fails (the rewriter needs them sorted, disjoint) */
    for (size_t j = 1; j < l->nsp; j++)
        if (l->sp[j].b < l->sp[j - 1].e) {
            for (size_t i = 0; i < l->n; i++)
                l->v[i].splice = 0;
            for (size_t k = 0; k < l->nsp; k++)
                free(l->sp[k].text);
            free(l->sp);
            l->sp = NULL;
            l->nsp = 0;
            break;
        }
    return HT_OK;
}

/* The argv given to libclang, for a parse of a spliced copy. */
static ht_err keep_argv(struct ht_site_list *out, const char *const *av,
                        int n, CXTranslationUnit tu)
{
    out->argv = calloc((size_t)n + 1, sizeof *out->argv);
    if (!out->argv)
        return HT_ENOMEM;
    for (int i = 0; i < n; i++)
        if (!(out->argv[out->argc++] = strdup(av[i])))
            return HT_ENOMEM;
    out->tu_name = ht__cx_take(clang_getTranslationUnitSpelling(tu));
    return out->tu_name ? HT_OK : HT_ENOMEM;
}

static ht_err find(const char *const *argv, int argc, const char *workdir,
                   const struct ht_site_opts *opts,
                   struct CXUnsavedFile *unsaved, struct ht_site_list *out);

ht_err ht_sites_find(const char *const *argv, int argc, const char *workdir,
                     const struct ht_site_opts *opts,
                     struct ht_site_list *out)
{
    return find(argv, argc, workdir, opts, NULL, out);
}

ht_err ht__sites_find_text(const char *const *argv, int argc,
                           const struct ht_site_opts *opts, const char *path,
                           const char *buf, size_t len,
                           struct ht_site_list *out)
{
    struct CXUnsavedFile u = {path, buf, (unsigned long)len};
    return find(argv, argc, NULL, opts, &u, out);
}

static ht_err find(const char *const *argv, int argc, const char *workdir,
                   const struct ht_site_opts *opts,
                   struct CXUnsavedFile *unsaved, struct ht_site_list *out)
{
    memset(out, 0, sizeof *out);
    static const struct ht_site_opts none;
    if (!opts)
        opts = &none;
    if (!argv || argc < 2)
        return HT_EINVAL;
    const char **av = calloc((size_t)argc + 2, sizeof *av);
    char *wd = NULL;
    if (!av)
        return HT_ENOMEM;
    int n = 0;
    /* libclang would write -MD/-MMD depfiles itself: drop those flags */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i > 0 && (strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0 ||
                      strcmp(a, "-MP") == 0))
            continue;
        if (i > 0 && (strcmp(a, "-MF") == 0 || strcmp(a, "-MT") == 0 ||
                      strcmp(a, "-MQ") == 0)) {
            i++;
            continue;
        }
        if (i > 0 && (strncmp(a, "-MF", 3) == 0 || strncmp(a, "-MT", 3) == 0 ||
                      strncmp(a, "-MQ", 3) == 0))
            continue;
        av[n++] = a;
    }
    if (workdir) {
        wd = malloc(strlen(workdir) + 32);
        if (!wd) {
            free(av);
            return HT_ENOMEM;
        }
        sprintf(wd, "-working-directory=%s", workdir);
        av[n++] = wd;
    }
    CXIndex idx = clang_createIndex(0, 0);
    CXTranslationUnit tu = NULL;
    enum CXErrorCode ec = clang_parseTranslationUnit2FullArgv(
        idx, NULL, av, n, unsaved, unsaved ? 1 : 0,
        CXTranslationUnit_DetailedPreprocessingRecord |
            CXTranslationUnit_KeepGoing,
        &tu);
    ht_err kerr = ec == CXError_Success && tu ? keep_argv(out, av, n, tu)
                                              : HT_OK;
    free(av);
    free(wd);
    if (ec != CXError_Success || !tu || kerr) {
        if (tu)
            clang_disposeTranslationUnit(tu);
        ht_sites_free(out);
        clang_disposeIndex(idx);
        return kerr ? kerr : HT_EPARSE;
    }
    /* Real errors (not driver "unknown argument") make the TU unusable. */
    unsigned nd = clang_getNumDiagnostics(tu);
    for (unsigned i = 0; i < nd; i++) {
        CXDiagnostic dg = clang_getDiagnostic(tu, i);
        enum CXDiagnosticSeverity sev = clang_getDiagnosticSeverity(dg);
        CXFile f = NULL;
        clang_getExpansionLocation(clang_getDiagnosticLocation(dg), &f, NULL,
                                   NULL, NULL);
        clang_disposeDiagnostic(dg);
        if (sev >= CXDiagnostic_Error && f) {
            clang_disposeTranslationUnit(tu);
            clang_disposeIndex(idx);
            ht_sites_free(out);
            return HT_EPARSE;
        }
    }
    struct walk w;
    memset(&w, 0, sizeof w);
    w.tu = tu;
    w.o = opts;
    w.l = out;
    CXCursor root = clang_getTranslationUnitCursor(tu);
    CXString sp = clang_getTranslationUnitSpelling(tu);
    w.main = clang_getFile(tu, clang_getCString(sp));
    clang_disposeString(sp);
    if (w.main)
        w.buf = clang_getFileContents(tu, w.main, &w.bufn);
    ht_err err = HT_OK;
    if (!w.main) {
        err = HT_EPARSE;
        goto done;
    }
    out->main_file = ht__cx_take(clang_File_tryGetRealPathName(w.main));
    if (!out->main_file || !*out->main_file) {
        free(out->main_file);
        out->main_file = ht__cx_take(clang_getFileName(w.main));
    }
    clang_visitChildren(root, macro_cb, &w);
    if (opts->types)
        ht__typegraph_add_tu(opts->types, tu);
    struct fnctx top = {&w, NULL};
    if (!w.err)
        clang_visitChildren(root, visit, &top);
    err = w.err ? w.err : finish(out);
    if (!err && out->n)
        err = find_splices(&w);
done:
    for (size_t i = 0; i < w.nmx; i++)
        free(w.mx[i].name);
    for (size_t i = 0; i < w.n_macro_names; i++)
        free(w.macro_names[i]);
    free(w.mx);
    clang_disposeTranslationUnit(tu);
    clang_disposeIndex(idx);
    if (err)
        ht_sites_free(out);
    return err;
}

static void free_strings(struct ht_site *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].file);
        free(v[i].func);
        free(v[i].macro);
        free(v[i].type);
        free(v[i].field);
        free(v[i].callee);
    }
    free(v);
}

void ht_sites_free(struct ht_site_list *l)
{
    free_strings(l->v, l->n);
    free_strings(l->hv, l->nh);
    free(l->main_file);
    for (size_t i = 0; i < l->nsp; i++)
        free(l->sp[i].text);
    free(l->sp);
    for (int i = 0; i < l->argc; i++)
        free(l->argv[i]);
    free(l->argv);
    free(l->tu_name);
    memset(l, 0, sizeof *l);
}

int ht__sites_is_valid(const struct ht_site_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct ht_site *s = &l->v[i];
        if (!s->file || s->kind >= HT_SITE_KIND_COUNT || s->line < 1 ||
            (s->id >> 63))
            return 0;
        if (s->kind == HT_SITE_STORE && s->rewritable &&
            !(s->lhs_b < s->lhs_e && s->lhs_e <= s->op && s->op < s->rhs_b &&
              s->rhs_b < s->rhs_e))
            return 0;
        for (size_t j = 0; j < i; j++)
            if (l->v[j].id == s->id)
                return 0;
    }
    return 1;
}
