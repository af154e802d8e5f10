/*
 * One-level expansion of a macro invocation written in the main file, as
 * text (the splices of sites.h): the body tokens of the definition in
 * effect, each parameter replaced by the tokens of its argument and
 * __VA_ARGS__ by the variadic arguments with their commas. Arguments are
 * substituted unexpanded and every token is followed by a space, so when
 * the compiler rescans the text it expands the argument and body macros
 * exactly as it would have (no token can paste with a neighbour).
 *
 * Refused (NULL: the caller keeps the invocation): builtin macros,
 * bodies using # or ## or __VA_OPT__ or naming the macro itself (the
 * rescan would expand it again), GNU named variadic parameters, argument
 * counts that do not match, invocations whose text is not NAME ( ... )
 * or contains a preprocessing directive.
 */
#include <clang-c/Index.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macroexp.h"

#define MAXP 64

struct toks {
    CXTranslationUnit tu;
    CXToken *t;
    unsigned n, n0; /* tokens kept, tokens libclang returned */
};

/* The tokens of r without comments (clang_tokenize keeps them). */
static void tokenize(struct toks *k, CXSourceRange r)
{
    clang_tokenize(k->tu, r, &k->t, &k->n0);
    k->n = 0;
    for (unsigned i = 0; i < k->n0; i++)
        if (clang_getTokenKind(k->t[i]) != CXToken_Comment)
            k->t[k->n++] = k->t[i];
}

static char *spell(const struct toks *k, unsigned i)
{
    CXString s = clang_getTokenSpelling(k->tu, k->t[i]);
    char *r = strdup(clang_getCString(s) ? clang_getCString(s) : "");
    clang_disposeString(s);
    return r;
}

static int is(const struct toks *k, unsigned i, const char *p)
{
    char *s = spell(k, i);
    int r = s && strcmp(s, p) == 0;
    free(s);
    return r;
}

static unsigned tok_off(const struct toks *k, unsigned i)
{
    unsigned o = 0;
    clang_getSpellingLocation(clang_getTokenLocation(k->tu, k->t[i]), NULL,
                              NULL, NULL, &o);
    return o;
}

/* Tokens [b, e) of k, each followed by a space, into f. */
static void put_toks(FILE *f, const struct toks *k, unsigned b, unsigned e)
{
    for (unsigned i = b; i < e; i++) {
        char *s = spell(k, i);
        fprintf(f, "%s ", s ? s : "");
        free(s);
    }
}

char *ht__macro_expand(CXTranslationUnit tu, CXFile main, CXCursor exp,
                       unsigned b, unsigned e, const char *buf, size_t bufn)
{
    CXCursor def = clang_getCursorReferenced(exp);
    if (clang_getCursorKind(def) != CXCursor_MacroDefinition ||
        clang_Cursor_isMacroBuiltin(def) || e > bufn || b >= e)
        return NULL;
    /* a directive inside the invocation's arguments */
    for (unsigned i = b; i < e; i++)
        if (buf[i] == '\n') {
            unsigned j = i + 1;
            while (j < e && (buf[j] == ' ' || buf[j] == '\t'))
                j++;
            if (j < e && buf[j] == '#')
                return NULL;
        }
    int fl = clang_Cursor_isMacroFunctionLike(def);
    CXString nm = clang_getCursorSpelling(def);
    char *name = strdup(clang_getCString(nm) ? clang_getCString(nm) : "");
    clang_disposeString(nm);
    struct toks d = {tu, NULL, 0, 0}, v = {tu, NULL, 0, 0};
    tokenize(&d, clang_getCursorExtent(def));
    tokenize(&v, clang_getRange(clang_getLocationForOffset(tu, main, b),
                                clang_getLocationForOffset(tu, main, e)));
    char *out = NULL;
    size_t outn = 0;
    FILE *f = NULL;
    unsigned np = 0, body = 1, va = 0;
    char *par[MAXP];
    unsigned ab[MAXP + 1], ae[MAXP + 1], na = 0; /* argument token ranges */
    if (!name || d.n < 1 || !is(&d, 0, name))
        goto out;
    if (fl) {
        /* NAME ( p1 , p2 , ... ) body */
        unsigned i = 2;
        if (d.n < 3 || !is(&d, 1, "("))
            goto out;
        if (is(&d, i, ")")) {
            i++;
        } else {
            for (;; i += 2) {
                if (i + 1 >= d.n || np >= MAXP)
                    goto out;
                if (is(&d, i, "...")) {
                    va = 1;
                    if (!is(&d, i + 1, ")"))
                        goto out;
                    i += 2;
                    break;
                }
                if (clang_getTokenKind(d.t[i]) != CXToken_Identifier ||
                    !(par[np] = spell(&d, i)))
                    goto out;
                np++;
                if (is(&d, i + 1, ")")) {
                    i += 2;
                    break;
                }
                if (!is(&d, i + 1, ","))
                    goto out; /* includes GNU `args...` */
            }
        }
        body = i;
    }
    for (unsigned i = body; i < d.n; i++)
        if (is(&d, i, "#") || is(&d, i, "##") || is(&d, i, "%:") ||
            is(&d, i, "%:%:") || is(&d, i, "__VA_OPT__") || is(&d, i, name))
            goto out;
    /* the invocation: NAME, or NAME ( args ) ending at e */
    if (v.n < 1 || !is(&v, 0, name))
        goto out;
    unsigned last = 1;
    if (fl) {
        int depth = 0, closed = 0;
        if (v.n < 3 || !is(&v, 1, "("))
            goto out;
        for (unsigned i = 1; i < v.n && !closed; i++) {
            if (tok_off(&v, i) >= e)
                break;
            int open = is(&v, i, "("), close = is(&v, i, ")");
            if (open && depth++ == 0) {
                ab[na] = i + 1;
            } else if ((close && --depth == 0) ||
                       (depth == 1 && is(&v, i, ","))) {
                if (na >= MAXP)
                    goto out;
                ae[na++] = i;
                ab[na] = i + 1;
                closed = close;
                last = i + 1;
            }
        }
        if (!closed)
            goto out;
        if (na == 1 && ab[0] == ae[0] && np == 0 && !va)
            na = 0; /* M() */
        if (va ? na < np : na != np)
            goto out;
    }
    if (last < v.n && tok_off(&v, last) < e)
        goto out; /* text after the invocation inside [b, e) */
    f = open_memstream(&out, &outn);
    if (!f)
        goto out;
    fputc(' ', f);
    for (unsigned i = body; i < d.n; i++) {
        char *s = spell(&d, i);
        unsigned p = 0;
        while (s && p < np && strcmp(s, par[p]) != 0)
            p++;
        if (s && p < np) {
            put_toks(f, &v, ab[p], ae[p]);
        } else if (s && va && strcmp(s, "__VA_ARGS__") == 0) {
            for (unsigned a = np; a < na; a++) {
                if (a > np)
                    fputs(", ", f);
                put_toks(f, &v, ab[a], ae[a]);
            }
        } else {
            fprintf(f, "%s ", s ? s : "");
        }
        free(s);
    }
    if (fclose(f) != 0) {
        free(out);
        out = NULL;
    }
out:
    for (unsigned i = 0; i < np; i++)
        free(par[i]);
    clang_disposeTokens(tu, d.t, d.n0);
    clang_disposeTokens(tu, v.t, v.n0);
    free(name);
    return out;
}
